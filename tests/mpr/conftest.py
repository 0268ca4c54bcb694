"""The gateway tests' fake workers, for the tests of what `mpr` composes."""

from tests.gateway.conftest import cleaner_fake, describer_fake

__all__ = ["cleaner_fake", "describer_fake"]
