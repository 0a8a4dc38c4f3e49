# expect: resource
# subprocess-needs: root
def f(n):
    with open("/etc/shadow") as file:
        return file.read()
