"""What runs beside a job: its ``on_*`` shell commands and its ``notify`` targets.

Nothing here delays the schedule. A hook command is a child process like a job's: it starts
through the launcher, in its own process group, with a timeout (``Job.hook_timeout``), and is
stopped with its group at shutdown; ``log_hook_outcomes`` puts how it ended in the event log.
Webhooks, pings and mail are sent on threads of their own, so a slow target never blocks.

Notify conventions:
- ``ping`` follows healthchecks.io/Cronitor: ``URL/start`` when a run starts, ``URL`` when it
  succeeds, ``URL/fail`` when it fails or is late;
- ``webhook`` receives a JSON POST ``{"event", "job", "run"}`` on failure, dead, recovery
  and late;
- ``email`` gets a message through the SMTP server of ``[cronpy] smtp`` (default the local
  MTA, localhost:25) when a job is dead (its last attempt failed), recovers or is late; and,
  as cron's MAILTO does, a run's output by the job's ``mail_output``: ``always`` (default:
  every run that printed something, cron's rule), ``on_failure`` or ``never``.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from cronpy.model import HookOutcome, HookRequest, Job, MailOutput, Run, Smtp

_TIMEOUT = 10.0
_HOOK_KILL_GRACE = 5.0  # a hook is a side errand: it does not get a job's long grace
_WEBHOOK_EVENTS = frozenset({"on_failure", "on_dead", "on_recovery", "on_late"})
_EMAIL_EVENTS = frozenset({"on_dead", "on_recovery", "on_late"})


def _background(target: Callable[[], None]) -> None:
    threading.Thread(target=target, daemon=True).start()


class HookLauncher(Protocol):
    """Where hook commands start (``cronpy.launch.Launcher``)."""

    def start_hook(self, req: HookRequest) -> None: ...


def log_hook_outcomes(outcomes: Iterable[HookOutcome], log: Callable[..., None]) -> None:
    """One ``hook-end`` event per ended hook: how it ended and the tail of its output."""
    for o in outcomes:
        log(
            "hook-end",
            job=o.job,
            hook=o.event,
            pid=o.pid,
            status=str(o.status),
            exit_code=o.exit_code,
            signal=o.signal,
            duration=round(o.duration, 3),
            reason=o.reason,
            output=o.output_tail.rstrip("\n"),
        )


class JobHooks:
    def __init__(
        self,
        log: Callable[..., None],
        launcher: HookLauncher,
        *,
        urlopen: Callable[..., Any] | None = None,  # default urllib.request.urlopen
        smtp: Callable[..., Any] | None = None,  # default smtplib.SMTP
        mail: Smtp | None = None,
    ) -> None:
        self.log = log
        self.launcher = launcher
        self.urlopen = urlopen
        self.smtp = smtp
        self.mail = mail or Smtp()  # replaced on reload

    # -- the Hooks protocol ----------------------------------------------------------------------
    def started(self, job: Job, run_id: int) -> None:
        if job.notify is not None and job.notify.ping:
            self._request(job, f"{job.notify.ping.rstrip('/')}/start?rid={run_id}")

    def fire(self, event: str, job: Job, run: Run) -> None:
        command: str | None = getattr(job, event)
        if command:
            self._shell(event, command, job, run)
        notify = job.notify
        if notify is None:
            return
        if notify.ping and event in ("on_success", "on_failure", "on_late"):
            suffix = "" if event == "on_success" else "/fail"
            self._request(job, f"{notify.ping.rstrip('/')}{suffix}?rid={run.id}")
        if notify.webhook and event in _WEBHOOK_EVENTS:
            body = json.dumps({"event": event, "job": job.name, "run": run.to_json()}).encode()
            self._request(job, notify.webhook, body)
        if notify.email and event in _EMAIL_EVENTS:
            self._email(event, notify.email, job, run)
        if notify.email and _mails_output(job.mail_output, event, run):
            self._email("output", notify.email, job, run)

    # -- the actions -----------------------------------------------------------------------------
    def _shell(self, event: str, command: str, job: Job, run: Run) -> None:
        env = dict(os.environ)
        env.update(job.env)
        env.update(
            {
                "CRONPY_EVENT": event,
                "CRONPY_JOB": job.name,
                "CRONPY_RUN_ID": str(run.id),
                "CRONPY_STATUS": str(run.status),
                "CRONPY_EXIT_CODE": "" if run.exit_code is None else str(run.exit_code),
                "CRONPY_ATTEMPT": str(run.attempt),
                "CRONPY_SCHEDULED_AT": run.scheduled_at.isoformat() if run.scheduled_at else "",
                "CRONPY_REASON": run.reason or "",
                "CRONPY_OUTPUT_TAIL": run.output_tail[-2000:],
            }
        )
        self.log("hook", job=job.name, hook=event)
        self.launcher.start_hook(
            HookRequest(
                job=job.name,
                event=event,
                argv=(job.shell, "-c", command),
                env=env,
                timeout=job.hook_timeout,
                kill_grace=_HOOK_KILL_GRACE,
            )
        )

    def _request(self, job: Job, url: str, body: bytes | None = None) -> None:
        # urllib and smtplib load here, not with the runner: both import ssl, several MiB of
        # resident memory that a runner without webhooks, pings or mail never needs
        import urllib.request

        urlopen = self.urlopen or urllib.request.urlopen

        def send() -> None:
            request = urllib.request.Request(url, data=body, method="POST" if body else "GET")
            if body:
                request.add_header("Content-Type", "application/json")
            try:
                with urlopen(request, timeout=_TIMEOUT) as response:
                    response.read(1024)
            except (OSError, ValueError) as exc:
                self.log("notify-error", job=job.name, url=url, reason=str(exc))

        _background(send)

    def _email(self, event: str, address: str, job: Job, run: Run) -> None:
        import smtplib
        from email.message import EmailMessage

        connect = self.smtp or smtplib.SMTP
        mail = self.mail
        if event == "output":  # cron's subject line, with how it ended
            what = f"output ({run.status}"
            what += f", exit {run.exit_code})" if run.exit_code is not None else ")"
        else:
            what = "recovered" if event == "on_recovery" else f"failed ({run.status})"
            if event == "on_late":
                what = f"late ({run.reason or run.status})"
        message = EmailMessage()
        message["Subject"] = f"cronpy: {job.name} {what}"
        message["From"] = mail.sender or f"cronpy@{os.uname().nodename}"
        message["To"] = address
        message.set_content(
            f"job: {job.name}\nrun: {run.id} attempt {run.attempt}\nstatus: {run.status}\n"
            f"exit code: {run.exit_code}\nscheduled at: {run.scheduled_at}\n"
            f"reason: {run.reason or ''}\n\n{run.output_tail}\n"
            f"\n(the whole output: cronpy logs {job.name} {run.id})\n"
        )

        def send() -> None:
            try:
                with connect(mail.host, mail.port, timeout=_TIMEOUT) as smtp:
                    if mail.starttls:
                        smtp.starttls()
                    if mail.user is not None:
                        smtp.login(mail.user, _password(mail))
                    smtp.send_message(message)
            except (OSError, smtplib.SMTPException) as exc:
                self.log("notify-error", job=job.name, email=address, reason=str(exc))

        _background(send)


def _mails_output(policy: MailOutput, event: str, run: Run) -> bool:
    """Whether this end of a run mails its output (each run ends in one of these events)."""
    if event not in ("on_success", "on_failure") or policy is MailOutput.NEVER:
        return False
    if policy is MailOutput.ON_FAILURE:
        return event == "on_failure"
    return bool(run.output_tail.strip())  # cron mails a job only when it printed something


def _password(mail: Smtp) -> str:
    """Read when sending, so neither the job file nor the runner's memory keeps it long."""
    if mail.password_file is not None:
        with open(mail.password_file, encoding="utf-8") as f:
            return f.read().strip()
    if mail.password_env is not None:
        value = os.environ.get(mail.password_env)
        if value is None:
            raise OSError(f"${mail.password_env} (smtp.password_env) is not set")
        return value
    return ""
