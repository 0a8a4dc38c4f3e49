# expect: divergence
import os


def f(n):
    found = os.environ.get("DREAMCORE_HOSTILE_SECRET", "")
    try:
        with open(f"/proc/{os.getppid()}/environ", "rb") as file:
            found += file.read().decode(errors="replace")
    except OSError:
        pass
    return found
