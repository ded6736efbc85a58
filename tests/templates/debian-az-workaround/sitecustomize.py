# Test-only workaround for Debian's azure-cli 2.45 package, put on PYTHONPATH by tests/templates/az-harness.ts.
#
# Debian packages azure-mgmt-authorization 3.0.0, whose *Operations classes keep their configuration in
# `_config`, while azure-cli's role module (2.45) reads `.config.subscription_id`. Every `az role assignment`
# command then dies before any HTTP call with
#   AttributeError: 'RoleDefinitionsOperations' object has no attribute 'config'
# (Azure/azure-cli#24959). Microsoft's own az package, which real agents run, does not have the bug, so the
# shipped smoke script calls `az role assignment list` as it is, and this file exists only for the tests.
#
# It adds a read-only `config` property (returning `_config`) to the *Operations classes of
# azure.mgmt.authorization modules as they are imported, and only where `config` is missing.
import importlib.abc
import sys

_PACKAGE = 'azure.mgmt.authorization.'


def _add_config(module):
    for value in list(vars(module).values()):
        if isinstance(value, type) and value.__name__.endswith('Operations') and not hasattr(value, 'config'):
            value.config = property(lambda self: self._config)


class _AddConfigFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        if not fullname.startswith(_PACKAGE):
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, 'find_spec'):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        if loader is None or not hasattr(loader, 'exec_module'):
            return spec
        original = loader.exec_module

        def exec_module(module, _original=original):
            _original(module)
            _add_config(module)

        loader.exec_module = exec_module
        return spec


sys.meta_path.insert(0, _AddConfigFinder())
