"""API tests reuse the propagation world (licensee, releases, models, webhook)."""

from tests.consent.conftest import notices  # noqa: F401 - fixtures
from tests.propagation.conftest import audio_dir, receiver, world  # noqa: F401
