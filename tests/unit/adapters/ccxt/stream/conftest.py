"""The stream tests' credentials in the environment, for every test of this room."""

from ..fake import _creds  # noqa: F401 - an autouse fixture
