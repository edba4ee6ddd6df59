"""The same GGUF file and prompts on llama.cpp (llama-cpp-python), for benches/README.md.

Prompt tokens/s, time to first token and generation tokens/s, as `generation_speed` measures
them on candle, with the same chat template; and the token ids llama.cpp gives the same texts,
to check our tokenizer (rebuilt from the GGUF metadata) against it.

    benches/.venv-llama/bin/python benches/python/llama_cpp_speed.py GGUF_PATH [--threads 2]
"""

import argparse
import json
import statistics
import time

from llama_cpp import Llama

SYSTEM = "You write social media posts. Reply with the post only."
DRAFT = (
    "We just opened our second coffee shop on Main Street! Come by this weekend for a free pastry "
    "with any drink, live music on Saturday and a tasting of our new single-origin beans. "
)
PROMPTS = [
    "Write a post about our new coffee shop.",
    "Rewrite this post for LinkedIn: " + DRAFT * 2,
    "Rewrite this post for LinkedIn: " + DRAFT * 10,
]
ID_TEXTS = [
    "Launch day 🚀 at https://example.com/a?b=1 #Launch @acme",
    "日本語のテキストと한국어, العربية, עברית, ελληνικά",
    "1234567890 3.14159 1e10",
    "WHY IS NOBODY TALKING ABOUT THIS?!?! don't won't I'm",
]


def chat(user: str) -> str:
    return f"<|im_start|>system\n{SYSTEM}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("gguf")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    llm = Llama(model_path=args.gguf, n_ctx=4096, n_threads=args.threads, n_batch=512, verbose=False)
    print("| prompt tokens | prompt tokens/s | time to first token (ms) | generated tokens | generation tokens/s |")
    print("|---:|---:|---:|---:|---:|")
    for user in PROMPTS:
        prompt = chat(user)
        tokens = llm.tokenize(prompt.encode(), add_bos=False, special=True)
        prompt_rates, first_ms, rates, generated = [], [], [], 0
        for seed in range(args.repeats):
            llm.reset()
            started = time.perf_counter()
            first = None
            count = 0
            for _ in llm.create_completion(
                tokens, max_tokens=args.max_tokens, temperature=0.7, top_p=0.9, top_k=0, seed=seed, stream=True
            ):
                count += 1
                if first is None:
                    first = time.perf_counter() - started
            total = time.perf_counter() - started
            generated += count
            prompt_rates.append(len(tokens) / first)
            first_ms.append(first * 1e3)
            if count > 1:
                rates.append((count - 1) / (total - first))
        print(
            f"| {len(tokens)} | {statistics.median(prompt_rates):.0f} | {statistics.median(first_ms):.0f} "
            f"| {generated / args.repeats:.0f} (mean) | {statistics.median(rates):.1f} |"
        )
    ids = {text: llm.tokenize(text.encode(), add_bos=False, special=False) for text in ID_TEXTS}
    print(json.dumps(ids, ensure_ascii=False))


if __name__ == "__main__":
    main()
