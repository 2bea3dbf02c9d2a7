"""Sessions read from the cache and written through to the database, surviving a cache outage.

Django's ``cached_db`` backend reads a session from the cache and falls back to the
database on a miss, which saves a query on every signed-in page. But when the cache does
not answer, its fallback itself raises (it writes the session back to the cache), and so
do signing in and out (they check and delete cache keys): a Redis outage would become a
500 on every signed-in page. Here every cache call is best-effort and logged, and the
database, which holds every session anyway, answers instead.
"""

import logging

from django.contrib.sessions.backends.cached_db import SessionStore as CachedDBStore
from django.contrib.sessions.backends.db import SessionStore as DBStore

logger = logging.getLogger(__name__)


class SessionStore(CachedDBStore):
    def _cache_call(self, method: str, *args, default=None):
        try:
            return getattr(self._cache, method)(*args)
        except Exception:
            logger.warning("Session cache %s failed; using the database", method, exc_info=True)
            return default

    def load(self):
        data = self._cache_call("get", self.cache_key)
        if data is not None:
            return data
        session = self._get_session_from_db()
        if session is None:
            return {}
        data = self.decode(session.session_data)
        self._cache_call("set", self.cache_key, data, self.get_expiry_age(expiry=session.expire_date))
        return data

    def exists(self, session_key):
        if session_key and self._cache_call("has_key", self.cache_key_prefix + session_key, default=False):
            return True
        return DBStore.exists(self, session_key)

    def save(self, must_create=False):
        DBStore.save(self, must_create)
        self._cache_call("set", self.cache_key, self._session, self.get_expiry_age())

    def delete(self, session_key=None):
        DBStore.delete(self, session_key)
        session_key = session_key or self.session_key
        if session_key is not None:
            # If this fails, the cached copy outlives the row until it expires; logged above.
            self._cache_call("delete", self.cache_key_prefix + session_key)
