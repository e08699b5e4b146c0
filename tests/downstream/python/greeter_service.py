"""A user's own rpyc service, benchmarked by `tests/rpyc_benches.rs` through
`python_service = "greeter_service:GreeterService"`."""

import rpyc


class GreeterService(rpyc.Service):
    def exposed_hello(self, name):
        return "hello, " + name
