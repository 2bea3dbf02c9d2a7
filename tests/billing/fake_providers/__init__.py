"""Local fakes of Alipay's and WeChat Pay v3's HTTP APIs, on loopback, for the tests.

Each implements the provider's documented signing with keys the tests generate, so the
real SDKs talk to it unchanged through their gateway URL setting (see fixtures.py).
"""
