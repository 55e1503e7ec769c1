"""Does DERIVA's HatracStore verify the server's certificate? Usage: deriva_tls_check.py HOST:PORT TOKEN

Lists /hatrac/ over HTTPS with retries off (deriva retries a refused certificate for minutes)
and prints TRUSTED, or UNTRUSTED when the certificate is refused. REQUESTS_CA_BUNDLE decides which.
"""
import sys

import requests
from deriva.core import DEFAULT_SESSION_CONFIG
from deriva.core.hatrac_store import HatracStore

host, token = sys.argv[1:3]
config = dict(DEFAULT_SESSION_CONFIG)
config.update({"retry_read": 0, "retry_connect": 0, "retry_status_forcelist": [], "bypass_cert_verify_host_list": []})
store = HatracStore("https", host, {"bearer-token": token}, session_config=config)
# urllib3 counts a certificate failure against its total of 10 retries, which the session config
# does not reach: a plain adapter without retries makes a refusal immediate
store._session.mount("https://", requests.adapters.HTTPAdapter(max_retries=0))
try:
    listing = store.retrieve_namespace("/hatrac/")
except requests.exceptions.SSLError:
    print("UNTRUSTED")
else:
    assert isinstance(listing, list), listing
    print("TRUSTED")
