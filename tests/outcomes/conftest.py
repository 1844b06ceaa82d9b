from tests.footage.records_support import make_clip, rec_device, rec_disk  # noqa: F401 - fixtures
from tests.leads.conftest import commit_per_request, other_operator  # noqa: F401 - fixtures
