"""Sending invoices to Hacienda under the shared rate limit, with a retry queue.

The logic of an Odoo integration, kept apart from Odoo so it runs on any
DB-API cursor: the addon in l10n_cr_hacienda_ratelimit/ calls it with env.cr
and keeps the queue in invoice fields; the tests call it with psycopg2 and the
in-memory MemoryQueue below.

Two flows, both non-blocking:

* submit_to_hacienda() sends one invoice if the bucket has a token now, and
  otherwise queues it for as long as hacienda_throttle says the next token is
  away, instead of a fixed two minutes.
* send_queued() is the cron: it sends the due invoices in order while tokens
  last, stops at the first refusal, and puts that invoice and the rest back in
  the queue for the throttle's retry_after.

Each send costs one hacienda_throttle call; a refusal consumes nothing, so the
queue never spends a token it does not use.  The token is spent before the
invoice goes out; if sending fails, the error propagates and the token stays
spent, as the request may have reached Hacienda.

A queue is any object with three methods, times being epoch seconds:

    due(now)              the invoices due at now, first due first
    push(invoice, due_at) queue an invoice, or move it, to due_at
    remove(invoice)       take a sent invoice out
"""

import collections
import time

import hacienda_ratelimit

# What submit_to_hacienda() did: sent, or queued until due_at (epoch seconds)
# because the next token was retry_after seconds away.
Submission = collections.namedtuple("Submission", "sent retry_after due_at")

# What send_queued() did: the invoices sent, the ones put back, and when they
# are due again (None when nothing was put back).
Batch = collections.namedtuple("Batch", "sent deferred retry_after due_at")


def submit_to_hacienda(cr, invoice, send, queue, key="default", clock=time.time):
    """Send invoice now if the bucket has a token; otherwise queue it.

    send(invoice) posts the invoice to Hacienda.  A refused invoice is queued
    until retry_after seconds after the refusal, so it comes due no earlier than
    its token.  Returns a Submission.
    """
    decision = hacienda_ratelimit.throttle(cr, key)
    if decision["allowed"]:
        send(invoice)
        return Submission(True, None, None)

    due_at = clock() + decision["retry_after"]
    queue.push(invoice, due_at)
    return Submission(False, decision["retry_after"], due_at)


def send_queued(cr, send, queue, key="default", clock=time.time):
    """Send the queued invoices that are due, in order, while tokens last.

    Stops at the first refusal: that invoice and every due one after it are
    queued again for the throttle's retry_after, in the same order.  Returns a
    Batch; its due_at is when to run again.
    """
    pending = list(queue.due(clock()))
    sent = []

    for position, invoice in enumerate(pending):
        decision = hacienda_ratelimit.throttle(cr, key)
        if not decision["allowed"]:
            return _defer(queue, sent, pending[position:], decision["retry_after"], clock)

        send(invoice)
        queue.remove(invoice)
        sent.append(invoice)

    return Batch(sent, [], None, None)


def _defer(queue, sent, rest, retry_after, clock):
    """Queue the invoices a batch could not send; return the Batch."""
    due_at = clock() + retry_after
    for invoice in rest:
        queue.push(invoice, due_at)
    return Batch(sent, rest, retry_after, due_at)


class MemoryQueue:
    """A retry queue in a dict, for callers without a database table.

    Invoices due at the same time come out in the order they were first queued.
    Invoices must be hashable.
    """

    def __init__(self):
        self._entries = {}
        self._arrivals = 0

    def push(self, invoice, due_at):
        """Queue invoice until due_at, keeping its place among equals if queued."""
        if invoice in self._entries:
            arrival = self._entries[invoice][1]
        else:
            arrival = self._arrivals
            self._arrivals += 1
        self._entries[invoice] = (due_at, arrival)

    def due(self, now):
        """The invoices due at now, first due first."""
        ready = [(entry, inv) for inv, entry in self._entries.items() if entry[0] <= now]
        return [inv for _, inv in sorted(ready, key=lambda pair: pair[0])]

    def remove(self, invoice):
        """Take invoice out of the queue."""
        del self._entries[invoice]

    def due_at(self, invoice):
        """When invoice is due, or None if it is not queued."""
        entry = self._entries.get(invoice)
        return entry[0] if entry else None

    def next_due(self):
        """The earliest due time in the queue, or None if it is empty."""
        return min((entry[0] for entry in self._entries.values()), default=None)

    def __len__(self):
        return len(self._entries)
