"""Smart triage (智能分流): propose or perform the routing of a case by the responsibility list, grade its risk.

Pure domain code: no database, no web framework. Entry point: :class:`fengqiao.triage.router.Router`;
the command line is :mod:`fengqiao.triage.cli`. Modules are imported on use so that ``import
fengqiao.triage`` stays cheap for the rest of the platform.
"""
