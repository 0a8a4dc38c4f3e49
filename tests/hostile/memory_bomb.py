# expect: resource
# case-timeout: 5
def f(n):
    hoard = []
    while True:
        hoard.append(bytearray(50_000_000))
