"""Girder's own Python client against our server: log in with a password and with an API key."""
import sys

import girder_client

api_url, login, password, api_key = sys.argv[1:5]

gc = girder_client.GirderClient(apiUrl=api_url)
user = gc.authenticate(login, password)
assert user["login"] == login, user
me = gc.get("user/me")
assert me["login"] == login, me

gc2 = girder_client.GirderClient(apiUrl=api_url)
gc2.authenticate(apiKey=api_key)
me2 = gc2.get("user/me")
assert me2["login"] == login, me2

gc3 = girder_client.GirderClient(apiUrl=api_url)
try:
    gc3.authenticate(login, password + "-wrong")
except girder_client.AuthenticationError:
    pass
else:
    raise AssertionError("a wrong password was accepted")

print("OK", me["_id"], me2["_id"])
