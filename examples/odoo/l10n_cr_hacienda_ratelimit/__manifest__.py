# Odoo addon manifest: Hacienda submissions under the database's shared rate limit.
{
    "name": "Costa Rica: Hacienda rate limit",
    "version": "17.0.1.0.0",
    "summary": "Send invoices to Hacienda under the hacienda_ratelimit extension's "
               "shared limit, queueing refused ones for exactly as long as needed",
    "category": "Accounting/Localizations",
    "depends": ["account"],
    "external_dependencies": {"python": ["hacienda_ratelimit", "hacienda_submission"]},
    "data": ["data/ir_cron.xml"],
    "license": "LGPL-3",
    "installable": True,
}
