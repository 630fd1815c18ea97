from tests.consent.conftest import notices  # noqa: F401 - fixture
