// The image panel: a dropped or chosen image goes to the image analysis endpoint as it is; the
// page shows the text read from it, the alt text, the quality warnings and, per platform, the
// crop the server chose, drawn from the local file (no second upload). The image id is kept so
// captions can describe the same image.

import { call } from "./api.js";
import { $, fill, h, showError } from "./dom.js";

let current = null;

/// The analysed image's id, for captions; none before an analysis succeeded.
export const imageId = () => current?.image_id || null;

async function analyse(file) {
  const result = $("image-result");
  current = null;
  showError($("image-error"), null);
  fill(result, h("p", { class: "notice", role: "status" }, `Reading ${file.name}…`));
  try {
    const { body } = await call("POST", "/v1/images:analyze", { body: file, type: file.type || "application/octet-stream" });
    current = body;
    const url = URL.createObjectURL(file);
    const picture = new Image();
    picture.alt = body.alt_text;
    picture.src = url;
    await picture.decode().catch(() => null);
    fill(result, summary(body), crops(body, picture));
    URL.revokeObjectURL(url);
  } catch (error) {
    fill(result);
    showError($("image-error"), error);
  }
}

function summary(body) {
  const ocr = body.ocr.unavailable
    ? h("p", { class: "notice" }, `No text reading: ${body.ocr.unavailable}`)
    : h("p", { id: "ocr-text", class: "preview" }, body.ocr.text || "(no text found)");
  return [
    h("p", { class: "meta" }, `${body.width} × ${body.height} ${body.format}, ${Math.round(body.bytes / 1024)} KiB`),
    h("h3", {}, "Text in the image"),
    ocr,
    h("h3", {}, "Alt text"),
    h("p", { id: "alt-text" }, body.alt_text),
    h("h3", {}, "Warnings"),
    body.warnings.length ? h("ul", { id: "image-warnings" }, body.warnings.map((w) => h("li", {}, w))) : h("p", {}, "None."),
  ];
}

/// One preview per platform: the server's crop rectangle drawn from the decoded local image.
function crops(body, picture) {
  const figures = body.platform_fit.map((fit) => {
    const { x, y, width, height } = fit.crop;
    const scale = Math.min(1, 192 / Math.max(width, height));
    const canvas = h("canvas", { role: "img", "aria-label": `${fit.platform} crop: ${width} × ${height} from (${x}, ${y})` });
    canvas.width = Math.max(1, Math.round(width * scale));
    canvas.height = Math.max(1, Math.round(height * scale));
    if (picture.naturalWidth) canvas.getContext("2d").drawImage(picture, x, y, width, height, 0, 0, canvas.width, canvas.height);
    return h("figure", { class: "crop" }, canvas, h("figcaption", {}, h("strong", {}, fit.platform), fit.ok ? " fits: " : " crop: ", fit.reason));
  });
  return [h("h3", {}, "Crop per platform"), h("div", { class: "crops" }, figures)];
}

export function start() {
  const zone = $("dropzone");
  $("image-file").addEventListener("change", (event) => {
    const file = event.target.files[0];
    if (file) analyse(file);
  });
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("active");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("active"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("active");
    const file = event.dataTransfer.files[0];
    if (file) analyse(file);
  });
}
