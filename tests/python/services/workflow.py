"""A workflow engine: `run(steps, on_step)` calls the client's `on_step` back, which may
run the next step on the server again."""
import rpyc
from _serve import serve


class WorkflowService(rpyc.Service):
    def exposed_run(self, steps, on_step):
        if steps <= 0:
            return 0
        return 1 + on_step(steps - 1)


if __name__ == "__main__":
    serve(WorkflowService)
