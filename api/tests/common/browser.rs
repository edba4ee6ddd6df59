//! Real Chromium, driven over WebDriver: Debian's `chromium` and `chromium-driver` (`.ci/run`
//! installs them): one chromedriver on an ephemeral port and one headless browser per
//! [`Browser::open`]. Shared by the page tests and the page benchmark (`benches/`, by `#[path]`).

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

/// `EIQ_CHROMEDRIVER` or `chromedriver` on the `PATH`; `EIQ_CHROMIUM` or Debian's binary.
fn programs() -> (String, String) {
    let driver = std::env::var("EIQ_CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
    let chromium = std::env::var("EIQ_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    (driver, chromium)
}

/// A chromedriver on an ephemeral port, in a process group of its own: dropping it kills the
/// group, so the browsers it started go with it even when a test panics mid-flow.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start() -> Driver {
        let (program, _) = programs();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(&program)
            .arg(format!("--port={port}"))
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("`{program}` (Debian's chromium-driver; .ci/run installs it): {e}"));
        let driver = Driver { child, url: format!("http://127.0.0.1:{port}") };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(20), "chromedriver did not listen in 20 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        driver
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.wait();
    }
}

/// One headless Chromium session.
pub struct Browser {
    pub client: Client,
    screenshots: std::path::PathBuf,
    _driver: Driver,
}

impl Browser {
    /// A fresh browser (its own profile: empty session storage) with a tall window, so that a
    /// screenshot shows the whole page. Screenshots go to `screenshots`.
    pub async fn open(screenshots: &std::path::Path) -> Browser {
        let (_, chromium) = programs();
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".into(), json!("chrome"));
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1280,2600", "--no-first-run", "--disable-extensions"],
            }),
        );
        let driver = Driver::start();
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&driver.url)
            .await
            .expect("a Chromium session (Debian's chromium; .ci/run installs it)");
        std::fs::create_dir_all(screenshots).unwrap();
        Browser { client, screenshots: screenshots.to_path_buf(), _driver: driver }
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    /// Runs `script` (a function body; `arguments[i]` are `args`) in the page.
    pub async fn run(&self, script: &str, args: Vec<Value>) -> Value {
        self.client.execute(script, args).await.unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Polls `expression` (a JavaScript expression) until it is truthy; its value. On timeout,
    /// saves a screenshot named `failed-<what>` and panics with the last value.
    pub async fn until(&self, what: &str, expression: &str, timeout: Duration) -> Value {
        let started = Instant::now();
        let script = format!("return ({expression});");
        loop {
            let value = self.run(&script, vec![]).await;
            let truthy = !matches!(&value, Value::Null | Value::Bool(false)) && value != json!(0) && value != json!("");
            if truthy {
                return value;
            }
            if started.elapsed() > timeout {
                let name = format!("failed-{}", what.replace(|c: char| !c.is_ascii_alphanumeric(), "-"));
                self.screenshot(&name).await;
                let errors = self.run("return [...document.querySelectorAll('.error')].map(e => e.id + ': ' + e.textContent).filter(t => !t.endsWith(': ')).join(' | ')", vec![]).await;
                panic!("{what}: not true after {timeout:?} (last value {value}); errors on the page: {errors}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Types `text` into the element at `css` as key presses.
    pub async fn type_into(&self, css: &str, text: &str) {
        let element = self.client.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}"));
        element.send_keys(text).await.unwrap();
    }

    /// Empties the text field at `css` as a user would (select all, delete).
    pub async fn clear(&self, css: &str) {
        let element = self.client.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}"));
        element.clear().await.unwrap();
    }

    /// Clicks the element at `css`, finding it again if the page re-rendered it in between.
    pub async fn click(&self, css: &str) {
        for attempt in 1.. {
            let element = self.client.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}"));
            match element.click().await {
                Ok(()) => return,
                Err(e) if attempt < 5 && e.to_string().contains("stale element") => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("click {css}: {e}"),
            }
        }
    }

    /// Saves a PNG of the viewport as `<name>.png`.
    pub async fn screenshot(&self, name: &str) {
        if let Ok(png) = self.client.screenshot().await {
            let _ = std::fs::write(self.screenshots.join(format!("{name}.png")), png);
        }
    }

    pub async fn close(self) {
        let _ = self.client.close().await;
    }
}
