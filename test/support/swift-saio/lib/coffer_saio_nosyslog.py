"""Swift `log_custom_handlers` hook for the test SAIO.

Swift always adds a syslog handler. With no /dev/log socket (containers, CI)
it falls back to UDP syslog, and the first log line auto-binds that UDP socket
on 0.0.0.0, which breaks the "loopback only" promise of the test servers.
The servers run with -v, so every line still reaches stderr (the log files).

The hook runs each time a configured logger is built; it walks every logger
known to the logging module, not just the one it is called for, because the
proxy's access logger is built from a private conf without this option.
"""
import logging
from logging.handlers import SysLogHandler


def drop_syslog(conf, name, log_to_console, log_route, fmt, logger,
                adapted_logger):
    candidates = [logging.getLogger()]
    candidates += [lg for lg in logging.Logger.manager.loggerDict.values()
                   if isinstance(lg, logging.Logger)]
    for lg in candidates:
        for handler in list(lg.handlers):
            if isinstance(handler, SysLogHandler):
                lg.removeHandler(handler)
                handler.close()
