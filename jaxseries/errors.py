"""Error types. Each is a subclass of the builtin users already catch (ValueError, FileNotFoundError)."""


class CheckpointNotFoundError(FileNotFoundError, ValueError):
    """A directory holds no jaxseries checkpoint (missing, empty or something else)."""


class CheckpointError(ValueError):
    """A checkpoint exists but cannot be used: corrupt, incompatible, or from a different model."""


class DivergenceError(FloatingPointError):
    """Training produced a non-finite (or exploding) loss; the message names the step."""
