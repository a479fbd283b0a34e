"""Reading an upload's body: how a stalled client is answered (the server's timeout is shared.serve's)."""
from __future__ import annotations

import pytest
from werkzeug.exceptions import RequestTimeout

from file_server.uploads import Body
from shared.errors import BadUpload


def test_a_stalled_body_is_a_408_in_the_store_s_error_shape():
    def stalled(size: int) -> bytes:
        raise RequestTimeout("The request body did not arrive in time: nothing was received for 30 seconds.")

    with pytest.raises(BadUpload) as caught:
        Body(stalled, None).read()
    assert caught.value.status == 408
    assert caught.value.body == {"error": "The request body did not arrive in time: nothing was received "
                                          "for 30 seconds. Nothing was stored."}
