# expect: resource
def f(n):
    with open("filler.bin", "wb") as file:
        while True:
            file.write(b"0" * 1_000_000)
