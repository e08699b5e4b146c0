"""User profiles: `get_profile(uid)` returns a dict (dicts travel by reference)."""
import rpyc
from _serve import serve


class ProfileService(rpyc.Service):
    def exposed_get_profile(self, uid):
        return {"id": uid, "name": f"user{uid}", "email": f"user{uid}@example.com", "plan": "basic"}


if __name__ == "__main__":
    serve(ProfileService)
