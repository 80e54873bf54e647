"""mindscreen: transformer text classifiers for mental-health text.

Importing the package is cheap: heavy dependencies load in the modules that use them.
"""

__version__ = "0.1.0"
