"""A production install (`make run`) gets the runtime pins only; tests add theirs on top."""
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEST_ONLY = {"pytest", "pytest-timeout", "pytest-xdist", "playwright", "openai", "anthropic", "hypothesis",
             "jsonschema"}


def _pins(name: str) -> dict[str, str]:
    pins = {}
    for line in (ROOT / name).read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "-r")):
            package, _, version = line.partition("==")
            assert version, f"{name}: {line!r} is not an exact pin"
            pins[package.lower()] = version
    return pins


def test_runtime_pins_carry_no_test_tools():
    assert not TEST_ONLY & set(_pins("requirements.txt"))


def test_test_pins_build_on_the_runtime_pins_without_overriding_them():
    text = (ROOT / "requirements-test.txt").read_text()
    assert "-r requirements.txt" in text.splitlines()
    assert not set(_pins("requirements.txt")) & set(_pins("requirements-test.txt"))
    assert TEST_ONLY <= set(_pins("requirements-test.txt"))
