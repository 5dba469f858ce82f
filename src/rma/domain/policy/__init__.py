"""Return policy: versioned, effective-dated data (`model`) and the code that evaluates a request against it."""

from rma.domain.policy.evaluate import Decision, OrderHistory, Outcome, evaluate
from rma.domain.policy.model import Fault, PolicyBook, PolicyVersion

__all__ = ["Decision", "Fault", "OrderHistory", "Outcome", "PolicyBook", "PolicyVersion", "evaluate"]
