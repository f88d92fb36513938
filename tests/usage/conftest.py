from tests.console.conftest import auth, client, join, owner  # noqa: F401  (fixtures)
