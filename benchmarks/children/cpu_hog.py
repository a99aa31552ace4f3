"""Keep one core busy until killed: the other work of a busy machine."""

while True:
    pass
