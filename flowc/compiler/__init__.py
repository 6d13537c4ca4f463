"""The compiler: libcst front end -> typed IR -> graph analysis and checks.

Importing this package is cheap and standard-library only; libcst is imported lazily by the front
end, so the runtime shim can read the IR (``flowc.compiler.ir``) without it.
"""
