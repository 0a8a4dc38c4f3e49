# expect: divergence
import json

FAKE = json.dumps({"kind": "case", "index": 0, "ok": True, "repr": "0", "hash": "0", "duration": 0})


def f(n):
    print(f"DCF 00000000000000000000000000000000 {len(FAKE)}\n{FAKE}", flush=True)
    return -1
