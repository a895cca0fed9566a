/* SPDX-License-Identifier: GPL-3.0-or-later
 * The example of RFC 8463 Appendix A, shared by the DKIM verifier's and
 * signer's tests: the keys (A.1, A.2), the message and its two signatures
 * (A.3), and the time it was signed. */
#pragma once

/* A.1: the Ed25519 private key, the raw 32-byte seed in base64 */
#define RFC8463_ED25519_PRIVATE "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A="

/* A.2: the key records */
#define RFC8463_ED25519_RECORD "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
#define RFC8463_RSA_RECORD                                                  \
  "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWR"    \
  "iGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutAC"   \
  "DfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3"   \
  "Ip3G+2kryOTIKT+l/K4w3QIDAQAB"

#define RFC8463_HEADERS                                                     \
  "From: Joe SixPack <joe@football.example.com>\r\n"                        \
  "To: Suzie Q <suzie@shopping.example.net>\r\n"                            \
  "Subject: Is dinner ready?\r\n"                                           \
  "Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"                         \
  "Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n"

#define RFC8463_BODY "Hi.\r\n\r\nWe lost the game.  Are you hungry yet?\r\n\r\nJoe.\r\n"

#define RFC8463_MESSAGE                                                     \
  "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n"           \
  " d=football.example.com; i=@football.example.com;\r\n"                   \
  " q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n"                 \
  " subject : date : message-id : from : subject : date;\r\n"               \
  " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"                   \
  " b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r\n"         \
  " Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==\r\n"                                   \
  "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n"               \
  " d=football.example.com; i=@football.example.com;\r\n"                   \
  " q=dns/txt; s=test; t=1528637909; h=from : to : subject :\r\n"           \
  " date : message-id : from : subject : date;\r\n"                         \
  " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"                   \
  " b=F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3\r\n"         \
  " DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz\r\n"         \
  " dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8=\r\n"         \
  RFC8463_HEADERS "\r\n" RFC8463_BODY

#define RFC8463_TIME G_GINT64_CONSTANT (1528637909)
