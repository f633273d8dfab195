"""Exceptions raised on bad input. Every message names the offending value and what is allowed."""


class WorkbenchError(ValueError):
    """Base class of every error the workbench raises on bad input (the CLI exits with code 2)."""


class ConfigError(WorkbenchError):
    """A bad option, preset, size or bit width."""


class DatasetError(WorkbenchError):
    """A dataset file that is missing, truncated, corrupt or stale."""


class ContractError(WorkbenchError):
    """A document that violates the qnn-int/1 contract."""


class ExportError(WorkbenchError):
    """A Keras model that cannot be represented in qnn-int/1."""


class ToolchainError(WorkbenchError):
    """A missing or failing external tool (simulator, synthesiser)."""
