#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Writes the seeds of tests/fuzz/corpus that are not text to type by hand:

  update/  serialized a{sv} dictionaries, as D-Bus Update methods receive
           them (GLib.Variant, little-endian), valid and broken;
  dns/     DNS answers as a name server sends them (RFC 1035 §4), valid,
           with compressed names, and broken;
  dkim/    messages signed with dkimpy (Ed25519 from a fixed seed, so the
           files come out the same each time), each preceded by the key
           record and a NUL, as fuzz-dkim.c reads them.

Run it from anywhere with /usr/bin/python3 (python3-gi, python3-dkim,
python3-nacl): it only writes files named gen-* in those folders, so the
hand-written seeds beside them stay as they are. The files are committed;
run it again only to change the seeds.
"""

import base64
import hashlib
import os
import struct

import dkim
import gi
import nacl.signing

gi.require_version('GLib', '2.0')
from gi.repository import GLib  # noqa: E402

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus')


def write(folder, name, data):
    path = os.path.join(CORPUS, folder, 'gen-' + name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'wb') as f:
        f.write(data)


# ---- update: a{sv} -----------------------------------------------------------

def v(signature, value):
    return GLib.Variant(signature, value)


def vardict(entries):
    """a{sv} from (key, GLib.Variant) pairs, in order, repeats allowed."""
    items = [GLib.Variant.new_dict_entry(GLib.Variant('s', key), GLib.Variant('v', value))
             for key, value in entries]
    return GLib.Variant.new_array(GLib.VariantType('{sv}'), items)


def serialized(variant):
    return variant.get_data_as_bytes().get_data()


UPDATES = {
    'empty': [],
    'general': [('Hostname', v('s', 'mail.example.org')), ('Banner', v('s', 'ESMTP Relais ready')),
                ('MaxRecipients', v('u', 50)), ('MaxHops', v('u', 30)), ('MaxMessageSizeMB', v('u', 25)),
                ('ExternalAdministrators', v('as', ['admin@example.org', 'ops@example.net'])),
                ('IdleTimeout', v('u', 600)), ('SmtpAuthentication', v('b', True)),
                ('SkipAuthForLocalNetworks', v('b', False)), ('VerifySenderLogin', v('b', True)),
                ('SkipSenderCheckForTrusted', v('b', True)), ('DisableAutoForward', v('b', True))],
    'general-bad': [('Hostname', v('s', 'not a host name')), ('MaxRecipients', v('s', '50')),
                    ('MaxHops', v('u', 0)), ('ExternalAdministrators', v('as', ['no-at-sign']))],
    'distribution': [('Mode', v('s', 'relay-host')), ('RelayServer', v('s', 'smtp.example.net')),
                     ('RelayPort', v('u', 465)), ('RelayAlwaysTls', v('b', True)),
                     ('RelayAuthentication', v('b', True)), ('RelayUsername', v('s', 'relais')),
                     ('RelayPassword', v('s', 'correct horse'))],
    'distribution-modes': [('Mode', v('s', 'relay-hosts')), ('Mode', v('s', 'direct')),
                           ('RelayServer', v('s', '[192.0.2.1]')), ('RelayPort', v('u', 70000))],
    'security': [('RejectNonFqdnSender', v('b', True)), ('RejectUnknownSenderDomain', v('b', True)),
                 ('RejectUnknownClientHostname', v('b', False)), ('LimitConnections', v('b', True)),
                 ('MaxConnections', v('u', 10000)), ('LimitMessageRate', v('b', True)),
                 ('MaxMessagesPerMinute', v('u', 1)), ('LimitConnectionRate', v('b', True)),
                 ('MaxConnectionsPerMinute', v('u', 100000)), ('RejectUnauthorizedPipelining', v('b', True)),
                 ('RejectNonFqdnHelo', v('b', True)), ('RejectUnknownHelo', v('b', True)),
                 ('BlockNonexistentRecipients', v('b', True)), ('MaxNonexistentRecipients', v('u', 5)),
                 ('MaxJunkCommands', v('u', 20)), ('Dnsbl', v('b', True)),
                 ('DnsblZones', v('a(ss)', [('zen.example', '127.0.0.2-127.0.0.11,127.0.0.20'),
                                            ('bl.example.net', '')])),
                 ('Spf', v('b', True)), ('Dkim', v('b', True)), ('Dmarc', v('b', True)),
                 ('Antivirus', v('b', True)), ('AntivirusSocket', v('s', 'localhost:3310')),
                 ('AntivirusUnreachable', v('s', 'accept')), ('DkimSigning', v('b', True))],
    'security-bad': [('MaxConnections', v('u', 0)), ('DnsblZones', v('a(ss)', [('bad zone', '127.0.0.300')])),
                     ('AntivirusSocket', v('s', 'relative/path')), ('AntivirusUnreachable', v('s', 'maybe'))],
    'relay-host': [('Name', v('s', 'hub2')), ('Server', v('s', '192.0.2.5')), ('Port', v('u', 2525)),
                   ('AlwaysTls', v('b', False)), ('Authentication', v('b', True)),
                   ('Username', v('s', 'user')), ('Password', v('s', 'secret'))],
    'relay-rule': [('Kind', v('s', 'sender')), ('Host', v('s', 'hub')),
                   ('Patterns', v('as', ['user@example.com', 'example.org']))],
    'security-rule': [('Name', v('s', 'friends')), ('List', v('s', 'white')), ('Type', v('s', 'domain')),
                      ('Value', v('s', 'example.com')), ('Action', v('s', ''))],
    'trusted-network': [('Name', v('s', 'lan6')), ('Network', v('s', '2001:db8::/32'))],
    'relay-domain': [('Name', v('s', 'partner2')), ('Domain', v('s', 'partner2.example'))],
    'wrong-types': [('Hostname', v('u', 1)), ('Port', v('s', '25')), ('Patterns', v('s', 'x')),
                    ('Network', v('as', ['192.0.2.0/24'])), ('Mode', v('v', v('s', 'direct')))],
    'repeated-keys': [('Name', v('s', 'a')), ('Name', v('s', 'b')), ('Hostname', v('s', 'a.example')),
                      ('Hostname', v('s', 'b.example'))],
    'unknown-key': [('NoSuchSetting', v('s', 'x')), ('hostname', v('s', 'lower.case.key'))],
}


def update_corpus():
    for name, entries in UPDATES.items():
        write('update', name, serialized(vardict(entries)))
    # A string that is not UTF-8: not in normal form, so it reads as "".
    data = bytearray(serialized(vardict([('Hostname', v('s', 'h\u00e9.example'))])))
    at = data.index('\u00e9'.encode())
    data[at + 1] = 0x41
    write('update', 'not-utf8', bytes(data))
    # Framing offsets cut short: a serialization GVariant has to make sense of.
    write('update', 'truncated', serialized(vardict(UPDATES['general']))[:-7])


# ---- dns: answers ---------------------------------------------------------

A, NS, CNAME, PTR, MX, TXT, AAAA = 1, 2, 5, 12, 15, 16, 28


def name(text):
    out = b''
    for label in text.rstrip('.').split('.') if text not in ('', '.') else []:
        out += bytes([len(label)]) + label.encode()
    return out + b'\0'


def message(qname, qtype, answers, rcode=0, ancount=None):
    """ANSWERS: (owner bytes, type, rdata bytes)."""
    header = struct.pack('>HHHHHH', 0x1234, 0x8180 | rcode, 1, len(answers) if ancount is None else ancount, 0, 0)
    out = header + name(qname) + struct.pack('>HH', qtype, 1)
    for owner, rtype, rdata in answers:
        out += owner + struct.pack('>HHIH', rtype, 1, 300, len(rdata)) + rdata
    return out


QNAME = b'\xc0\x0c'   # a pointer to the question's name (offset 12)


def txt(*strings):
    return b''.join(bytes([len(s)]) + s for s in strings)


def dns_corpus():
    write('dns', 'a', message('example.org', A, [(QNAME, CNAME, name('www.example.org')),
                                                 (name('www.example.org'), A, bytes([192, 0, 2, 10])),
                                                 (name('www.example.org'), A, bytes([127, 0, 0, 2]))]))
    write('dns', 'aaaa', message('example.org', AAAA, [(QNAME, AAAA, bytes.fromhex('20010db8' + '0' * 22 + '25'))]))
    write('dns', 'mx', message('example.org', MX, [(QNAME, MX, struct.pack('>H', 10) + b'\x04mail' + QNAME),
                                                   (QNAME, MX, struct.pack('>H', 20) + name('MX2.Example.NET.')),
                                                   (QNAME, MX, struct.pack('>H', 30) + b'\x02mx' + QNAME)]))
    write('dns', 'mx-null', message('example.org', MX, [(QNAME, MX, struct.pack('>H', 0) + b'\0')]))
    write('dns', 'ptr', message('10.2.0.192.in-addr.arpa', PTR, [(QNAME, PTR, name('mail.example.org.'))]))
    write('dns', 'txt', message('example.org', TXT, [
        (QNAME, TXT, txt(b'v=spf1 ip4:192.0.2.0/24 ', b'include:_spf.example.net -all')),
        (QNAME, TXT, txt(b'v=DKIM1; k=ed25519; ', b'p=' + b'A' * 200, b'')),
        (QNAME, TXT, txt(b'x' * 255, b'y' * 255))]))
    write('dns', 'nxdomain', message('nx.example.org', A, [], rcode=3))
    write('dns', 'servfail', message('example.org', A, [], rcode=2))
    write('dns', 'no-records', message('example.org', AAAA, [(QNAME, NS, name('ns.example.org'))]))
    write('dns', 'truncated', message('example.org', A, [(QNAME, A, bytes([192, 0, 2, 1]))], ancount=3))
    write('dns', 'pointer-loop', message('example.org', MX, [(QNAME, MX, struct.pack('>H', 5) + b'\xc0\x2d')]))
    write('dns', 'txt-overlong', message('example.org', TXT, [(QNAME, TXT, b'\xff' + b'short')]))
    write('dns', 'rdlen-odd', message('example.org', A, [(QNAME, A, bytes(5)), (QNAME, MX, b'\0\x0a')]))
    write('dns', 'header-only', struct.pack('>HHHHHH', 1, 0x8180, 0, 0, 0, 0))


# ---- dkim: signed messages ---------------------------------------------------

MESSAGE = (b'From: Alice <alice@example.net>\r\n'
           b'To: Bob <bob@example.org>\r\n'
           b'Subject: Signed for the fuzzer\r\n'
           b'Date: Tue, 14 Nov 2023 23:13:19 +0100\r\n'
           b'Message-ID: <fuzz-1@example.net>\r\n'
           b'\r\n'
           b'Hello Bob,\r\n'
           b'\r\n'
           b'trailing  white space   \r\n'
           b'\r\n\r\n')


def dkim_corpus():
    seed = hashlib.sha256(b'relais fuzz corpus').digest()
    key = nacl.signing.SigningKey(seed)
    private = base64.b64encode(seed)
    record = b'v=DKIM1; k=ed25519; p=' + base64.b64encode(bytes(key.verify_key))
    cases = {
        'ed25519-relaxed': dict(canonicalize=(b'relaxed', b'relaxed')),
        'ed25519-simple': dict(canonicalize=(b'simple', b'simple')),
        'ed25519-length': dict(canonicalize=(b'relaxed', b'simple'), length=True),
        'ed25519-identity': dict(identity=b'alice@mail.example.net'),
    }
    for case, options in cases.items():
        field = dkim.sign(MESSAGE, b'fuzz', b'example.net', private, signature_algorithm=b'ed25519-sha256',
                          include_headers=[b'from', b'to', b'subject', b'date', b'message-id'], **options)
        write('dkim', case, record + b'\0' + field + MESSAGE)
    field = dkim.sign(MESSAGE, b'fuzz', b'example.net', private, signature_algorithm=b'ed25519-sha256',
                      include_headers=[b'from', b'subject'])
    write('dkim', 'ed25519-testing-tampered',
          record + b'; t=y\0' + field + MESSAGE.replace(b'Hello Bob', b'Hello Eve'))


if __name__ == '__main__':
    update_corpus()
    dns_corpus()
    dkim_corpus()
