"""`POST /v1/posts:check` latency against a running server: a tweet on X and on Instagram, a full
Facebook post, and hostile 256 KiB texts (standard library only).

    eiq serve --models minilm-l6-v2 --bind 127.0.0.1:18181 &
    python3 benches/python/posts_check_latency.py --port 18181
"""

import argparse
import http.client
import json
import statistics
import time


def run(port: int, body: dict, repeats: int) -> tuple[float, float, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        connection.request("POST", "/v1/posts:check", json.dumps(body), {"content-type": "application/json"})
        response = connection.getresponse()
        data = response.read()
        times.append((time.perf_counter() - started) * 1000)
        assert response.status == 200, data[:200]
    times.sort()
    return statistics.median(times), times[max(0, int(len(times) * 0.99) - 1)], json.loads(data)["length"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8080)
    port = parser.parse_args().port
    tweet = "Launch day 🚀 Our new app is live at https://example.com/launch?utm=x — thanks @acme and @bob! #Launch #StartUp 👨‍👩‍👧"
    print("first request:", run(port, {"text": tweet, "platform": "x"}, 1))
    print("tweet on x (p50, p99 ms):", run(port, {"text": tweet, "platform": "x"}, 500))
    photo = [{"type": "photo", "width": 1080, "height": 1350}]
    print("tweet on instagram:", run(port, {"text": tweet, "platform": "instagram", "media": photo}, 500))
    print("63,206 characters on facebook:", run(port, {"text": ("word " * 12642)[:63206], "platform": "facebook"}, 20))
    for name, text in [("http://a.", "http://a." * 29000), ("#a#", "#a#" * 87000), ("a-", "a-" * 130000 + ".com")]:
        print(f"hostile {name} x{len(text)} bytes:", run(port, {"text": text, "platform": "x"}, 5))


if __name__ == "__main__":
    main()
