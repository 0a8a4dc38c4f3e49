# expect: resource
# subprocess-needs: root
def f(n):
    with open("/etc/dreamcore-hostile", "w") as file:
        file.write("owned")
    return n * 2
