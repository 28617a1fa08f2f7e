"""Helpers for the PostOffice interop suite: processes, TLS material, servers, corpus, comparison."""
