# expect: validation
import builtins
import hashlib
import json

builtins.repr = lambda value: "0"
builtins.isinstance = lambda value, kinds: True
json.dumps = lambda *args, **kwargs: "[]"
hashlib.sha256 = lambda data=b"": hashlib.md5(b"")


def f(n):
    return n * 2 + 1
