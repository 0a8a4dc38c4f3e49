# expect: success
import subprocess


def f(n):
    subprocess.Popen(["sleep", "1000"], start_new_session=True)
    return n * 2
