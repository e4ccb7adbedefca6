"""Invoices sent to Hacienda under the shared rate limit, with a retry queue.

The decisions and the SQL are in hacienda_submission, a plain module on the
Odoo server's Python path along with the hacienda_ratelimit client.  This model
only keeps the queue in two invoice fields and runs the cron.
"""

from datetime import datetime, timezone

from odoo import api, fields, models

import hacienda_submission


def _utc_datetime(epoch):
    """An epoch time as the naive UTC datetime Odoo stores."""
    return datetime.fromtimestamp(epoch, timezone.utc).replace(tzinfo=None)


def _post(move):
    """Post one invoice to Hacienda; the callback hacienda_submission sends with."""
    move._l10n_cr_hacienda_post()


class _InvoiceQueue:
    """The queue hacienda_submission asks for, kept in the fields of some invoices."""

    def __init__(self, moves):
        self.moves = moves

    def due(self, now):
        """The invoices due at now, first due first."""
        limit = _utc_datetime(now)
        due = self.moves.filtered(
            lambda m: m.l10n_cr_hacienda_state == "queued" and m.l10n_cr_hacienda_retry_at
            and m.l10n_cr_hacienda_retry_at <= limit)
        return list(due.sorted(lambda m: (m.l10n_cr_hacienda_retry_at, m.id)))

    def push(self, move, due_at):
        """Queue an invoice until due_at."""
        move.write({"l10n_cr_hacienda_state": "queued",
                    "l10n_cr_hacienda_retry_at": _utc_datetime(due_at)})

    def remove(self, move):
        """Mark a queued invoice sent."""
        move.write({"l10n_cr_hacienda_state": "sent", "l10n_cr_hacienda_retry_at": False})


class AccountMove(models.Model):
    _inherit = "account.move"

    l10n_cr_hacienda_state = fields.Selection(
        [("queued", "Waiting for the rate limit"), ("sent", "Sent to Hacienda")],
        string="Hacienda Submission", copy=False)
    l10n_cr_hacienda_retry_at = fields.Datetime(
        string="Hacienda Retry At", copy=False, index=True)

    def _l10n_cr_hacienda_rate_key(self):
        """The bucket of this invoice: one per company, as Hacienda limits per credentials."""
        self.ensure_one()
        return "company-%s" % (self.company_id.vat or self.company_id.id)

    def _l10n_cr_hacienda_post(self):
        """Post this invoice's signed document to Hacienda's reception API.

        The e-invoicing module that holds the credentials and builds the document
        provides it; this addon only decides when it may be called.
        """
        raise NotImplementedError("posting to Hacienda belongs to the e-invoicing module")

    def submit_to_hacienda(self):
        """Send each invoice now if its company's bucket has a token; queue the rest.

        Never waits.  A queued invoice is due when the throttle says its token
        will be there, and the cron is triggered for that moment.
        """
        for move in self:
            outcome = hacienda_submission.submit_to_hacienda(
                self.env.cr, move, _post, _InvoiceQueue(move),
                key=move._l10n_cr_hacienda_rate_key())

            if outcome.sent:
                move.l10n_cr_hacienda_state = "sent"
            else:
                self._l10n_cr_hacienda_trigger_at(outcome.due_at)

    @api.model
    def _cron_l10n_cr_hacienda_send_queued(self):
        """Send the due queued invoices, company by company, while tokens last."""
        queued = self.search([("l10n_cr_hacienda_state", "=", "queued"),
                              ("l10n_cr_hacienda_retry_at", "<=", fields.Datetime.now())])
        by_key = {}
        for move in queued:
            key = move._l10n_cr_hacienda_rate_key()
            by_key[key] = by_key.get(key, self.browse()) | move

        for key, moves in by_key.items():
            batch = hacienda_submission.send_queued(
                self.env.cr, _post, _InvoiceQueue(moves), key=key)
            if batch.due_at is not None:
                self._l10n_cr_hacienda_trigger_at(batch.due_at)

    def _l10n_cr_hacienda_trigger_at(self, due_at):
        """Have the cron run again when the first queued invoice comes due."""
        cron = self.env.ref("l10n_cr_hacienda_ratelimit.ir_cron_hacienda_send_queued")
        cron._trigger(at=_utc_datetime(due_at))
