"""A monotonic clock the limiter tests move forward instead of sleeping through back-offs and leases."""


class FakeClock:
    def __init__(self, start: float = 1000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
