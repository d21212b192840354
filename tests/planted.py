"""Secrets of every kind once found unredacted in shared output, planted in the text they appear in.

Shared by the tests of every place a value is shown: :mod:`obskit.redaction` itself, the views'
hover text, the tables, the report's outputs and ``--show-code`` cells, and the browser test.
Each entry is ``(kind, line, secret)``: redacting ``line`` must leave no trace of ``secret``
and put a ``[REDACTED:<kind>]`` marker in its place. The tokens are made up, in the vendors'
formats.
"""

from __future__ import annotations

GITHUB = "ghp_" + "R4nd0mT0k3nV4lu3Xy" * 2
GITLAB = "glpat-" + "Zx9Qw8Er7Ty6Ui5Op4As"
NPM = "npm_" + "Kq7Lm2Np9Rs4Tv6Wx8Yz1Ab3Cd5Ef7Gh9Ijk"
SLACK_BOT = "xoxb-" + "123456789012-1234567890123-" + "AbCdEfGhIjKlMnOpQrStUvWx"
SLACK_HOOK = "T024BE7LD/B01ABCDEF12/" + "Qx7rZk2LmN9pWs4TvY6uHc3J"
STRIPE = "sk_live_" + "51HxYz2AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
OPENAI = "sk-proj-" + "Xy1Zb2Ac3Bd4Ce5Df6Eg7Fh8Gi9Hj0Ik1Jl2Km3Ln4Mo5Np6Oq7Pr8Qs9Rt"
SENDGRID = "SG." + "Ab1Cd2Ef3Gh4Ij5Kl6Mn7O" + "." + "Pq8Rs9Tu0Vw1Xy2Za3Bc4De5Fg6Hi7Jk8Lm9No0Pq1Rs2T"
CLIENT_KEY = "LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQpNSUlFb3dJQkFBS0NBUUVB"
DOCKER_AUTH = "YWRtaW46ZG9ja2VyLXBhc3N3b3Jk"

#: (kind, line, secret) for every kind of secret obskit redacts, in a line where it was seen.
LEAKED: list[tuple[str, str, str]] = [
    ("github-token", f"git clone https://{GITHUB}@github.com/acme/app.git", GITHUB),
    ("github-token", f"curl -H 'Authorization: token {GITHUB}' api.github.com", GITHUB),
    ("authorization", "curl -H 'Authorization: token 9a8b7c6d5e4f3a2b1c0d' /api", "9a8b7c6d5e4f"),
    ("gitlab-token", f"export GITLAB_PAT {GITLAB}", GITLAB),
    ("npm-token", f"npm config set //registry.npmjs.org/:_authToken={NPM}", NPM),
    ("npm-token", f"publishing with {NPM} now", NPM),
    ("slack-token", f"notify via {SLACK_BOT}", SLACK_BOT),
    ("slack-token", f"POST https://hooks.slack.com/services/{SLACK_HOOK} 200", SLACK_HOOK),
    ("stripe-key", f"charging with {STRIPE}", STRIPE),
    ("openai-key", f"OPENAI_API_KEY {OPENAI}", OPENAI),
    ("sendgrid-key", f"mail via {SENDGRID} sent", SENDGRID),
    ("private-key", f"    client-key-data: {CLIENT_KEY}", CLIENT_KEY),
    ("basic-auth", f'{{"auths":{{"registry.acme.io":{{"auth":"{DOCKER_AUTH}"}}}}}}', DOCKER_AUTH),
    ("cookie", "GET / Cookie: session=9f8e7d6c5b4a; theme=dark", "9f8e7d6c5b4a"),
    ("cookie", "Set-Cookie: sid=31d4d96e407aad42; Path=/; HttpOnly", "31d4d96e407aad42"),
    ("password", "psql --password Pl4nt3dPw -h db", "Pl4nt3dPw"),
    ("password", "mysql -h db -u root -pMy5qlPw0rd shop", "My5qlPw0rd"),
    ("basic-auth", "curl -u admin:Cu7lPa55 https://api.acme.io", "Cu7lPa55"),
    (
        "password",
        "aws configure set aws_secret_access_key Wj4lrXUtnFEMI7MDENGbPxRfiCYKEY",
        "Wj4lrXUtnFEMI7MDENGbPxRfiCYKEY",
    ),
    ("password", "env DB_PASS=Db9assW0rd app", "Db9assW0rd"),
    ("password", "SSHPASS=Ss4Pass sshpass -e ssh node-1", "Ss4Pass"),
    ("password", '{"type": "service_account", "private_key_id": "0a1b2c3d4e5f6071"}', "0a1b2c3d"),
    ("basic-auth", "DSN=postgres://app:pa/ss#w@rd@db:5432/shop", "pa/ss#w@rd"),
    ("basic-auth", "cache redis://:R3d1sPw@redis-master:6379/0", "R3d1sPw"),
    (
        "url-signature",
        "GET https://b.s3.amazonaws.com/k?X-Amz-Date=20240910T205959Z"
        "&X-Amz-Signature=fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024",
        "fe5f80f77d5fa3beca038a248ff027d0",
    ),
    ("authorization", "Authorization: 7f6e5d4c3b2a1908f7e6", "7f6e5d4c3b2a1908f7e6"),
    # what the tables caught and the hover text did not (it was redacted after escaping)
    ("password", '{"password":"Js0nPw"}', "Js0nPw"),
    ("password", "password='Qu0t3dPw'", "Qu0t3dPw"),
    ("password", 'db_password: "Ya4mlPw"', "Ya4mlPw"),
    (
        "azure-key",
        "https://a.blob.core.windows.net/c/b?sv=2022-11-02&sig=QWx6dXJlU2lnbmF0dXJlMTIz%3D",
        "QWx6dXJlU2lnbmF0dXJlMTIz",
    ),
    ("password", '{"msg":"config password=\\"hunter2\\""}', "hunter2"),
]
