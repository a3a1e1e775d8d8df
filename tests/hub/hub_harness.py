"""Drive a real JupyterHub from a test: its web forms, its REST API, users' kernels.

Everything goes over HTTP and WebSocket to the hub's proxy on loopback, the way a
browser or a notebook client would: sign-up and login forms (with the XSRF cookie),
tokens from the REST API, kernels through the Jupyter Server REST API and the kernel's
``/channels`` WebSocket (Jupyter messaging protocol, JSON frames).
"""

from __future__ import annotations

import json
import socket
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import requests
import websocket


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class HubError(AssertionError):
    """The hub answered something a step did not expect (with the response in the text)."""


@dataclass
class HubUser:
    """One person using the hub from a browser-like session, plus their API token."""

    base: str  # http://127.0.0.1:PORT
    name: str
    password: str
    session: requests.Session = field(default_factory=requests.Session)
    token: str | None = None

    def _xsrf(self, page: str) -> str:
        self.session.get(f"{self.base}{page}", timeout=30).raise_for_status()
        value = self.session.cookies.get("_xsrf")
        if not value:
            raise HubError(f"no _xsrf cookie after GET {page}")
        return str(value)

    def signup(self) -> str:
        """Submit the sign-up form; the page's text (it says whether approval is pending)."""
        xsrf = self._xsrf("/hub/signup")
        resp = self.session.post(
            f"{self.base}/hub/signup",
            data={
                "username": self.name,
                "signup_password": self.password,
                "signup_password_confirmation": self.password,
                "_xsrf": xsrf,
            },
            timeout=30,
        )
        resp.raise_for_status()
        return resp.text

    def login(self) -> requests.Response:
        """Submit the login form (the first login creates the Unix account).

        Success is a redirect, not followed: following it would start the server.
        """
        xsrf = self._xsrf("/hub/login")
        return self.session.post(
            f"{self.base}/hub/login",
            data={"username": self.name, "password": self.password, "_xsrf": xsrf},
            timeout=60,
            allow_redirects=False,
        )

    def logged_in(self) -> bool:
        resp = self.session.get(f"{self.base}/hub/api/user", headers=self._cookie_headers())
        return resp.status_code == 200 and resp.json().get("name") == self.name

    def _cookie_headers(self) -> dict[str, str]:
        return {"X-XSRFToken": str(self.session.cookies.get("_xsrf") or "")}

    def create_token(self) -> str:
        """A REST API token of this user (made with the login cookie, as the hub UI does)."""
        resp = self.session.post(
            f"{self.base}/hub/api/users/{self.name}/tokens",
            json={"note": "e2e test", "expires_in": 3600},
            headers=self._cookie_headers(),
            timeout=30,
        )
        if resp.status_code != 201:
            raise HubError(f"token for {self.name}: HTTP {resp.status_code} {resp.text[:300]}")
        self.token = str(resp.json()["token"])
        return self.token

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Call ``/hub/api`` + ``path`` with this user's token."""
        headers = {"Authorization": f"token {self.token}", **kwargs.pop("headers", {})}
        return requests.request(
            method, f"{self.base}/hub/api{path}", headers=headers, timeout=60, **kwargs
        )

    def server(
        self, method: str, path: str, user: str | None = None, **kw: Any
    ) -> requests.Response:
        """Call ``/user/<user>/`` + ``path`` (the single-user server) with this user's token."""
        headers = {"Authorization": f"token {self.token}", **kw.pop("headers", {})}
        return requests.request(
            method,
            f"{self.base}/user/{user or self.name}/{path}",
            headers=headers,
            timeout=60,
            allow_redirects=False,
            **kw,
        )


def wait_ready(admin: HubUser, names: list[str], timeout: float) -> dict[str, float]:
    """Wait until each user's default server is ready; seconds each took from now."""
    start = time.monotonic()
    done: dict[str, float] = {}
    while len(done) < len(names):
        for name in names:
            if name in done:
                continue
            info = admin.api("GET", f"/users/{name}").json()
            server = (info.get("servers") or {}).get("")
            if server and server.get("ready"):
                done[name] = time.monotonic() - start
            elif not info.get("pending") and not server:
                raise HubError(f"server of {name} stopped while starting: {info}")
        if time.monotonic() - start > timeout:
            raise HubError(f"servers not ready after {timeout} s: {sorted(set(names) - set(done))}")
        time.sleep(0.25)
    return done


@dataclass
class ExecResult:
    stdout: str
    error: str | None

    def json(self) -> Any:
        """The last stdout line, parsed (kernel snippets print one JSON line at the end)."""
        if self.error:
            raise HubError(f"kernel raised:\n{self.error}")
        lines = [ln for ln in self.stdout.splitlines() if ln.strip()]
        if not lines:
            raise HubError("kernel printed nothing")
        return json.loads(lines[-1])


class Kernel:
    """A kernel in a user's server, started over REST and driven over its WebSocket."""

    def __init__(self, user: HubUser, ws_base: str) -> None:
        self.user = user
        resp = user.server("POST", "api/kernels", json={"name": "python3"})
        if resp.status_code != 201:
            raise HubError(f"start kernel for {user.name}: HTTP {resp.status_code} {resp.text}")
        self.kernel_id = resp.json()["id"]
        self.session = uuid.uuid4().hex
        self.ws = websocket.create_connection(
            f"{ws_base}/user/{user.name}/api/kernels/{self.kernel_id}/channels"
            f"?session_id={self.session}",
            header=[f"Authorization: token {user.token}"],
            timeout=120,
        )

    def execute(self, code: str, timeout: float = 120) -> ExecResult:
        msg_id = uuid.uuid4().hex
        self.ws.send(
            json.dumps(
                {
                    "header": {
                        "msg_id": msg_id,
                        "username": self.user.name,
                        "session": self.session,
                        "msg_type": "execute_request",
                        "version": "5.3",
                    },
                    "parent_header": {},
                    "metadata": {},
                    "content": {
                        "code": code,
                        "silent": False,
                        "store_history": False,
                        "user_expressions": {},
                        "allow_stdin": False,
                        "stop_on_error": True,
                    },
                    "channel": "shell",
                    "buffers": [],
                }
            )
        )
        out: list[str] = []
        error: str | None = None
        idle = replied = False
        deadline = time.monotonic() + timeout
        while not (idle and replied):
            if time.monotonic() > deadline:
                raise HubError(f"kernel of {self.user.name} did not finish in {timeout} s")
            msg = json.loads(self.ws.recv())
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind = msg["header"]["msg_type"]
            content = msg["content"]
            if kind == "stream":
                out.append(content["text"])
            elif kind == "error":
                error = f"{content['ename']}: {content['evalue']}\n" + "\n".join(
                    content.get("traceback", [])
                )
            elif kind == "status" and content["execution_state"] == "idle":
                idle = True
            elif kind == "execute_reply":
                replied = True
        return ExecResult("".join(out), error)
