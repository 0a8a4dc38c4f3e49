# expect: validation
import json
import os

FAKE = json.dumps({"kind": "case", "index": 0, "ok": True, "repr": "0", "hash": "0", "duration": 0}).encode()


def f(n):
    for fd in range(3, 64):
        try:
            os.write(fd, b"DCF forged %d\n" % len(FAKE) + FAKE)
        except OSError:
            pass
    return n * 2
