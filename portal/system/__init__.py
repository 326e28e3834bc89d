"""Operating the portal: health checks, the System page (workers, queues, failed and scheduled jobs, cron
entries), the Prometheus metrics, and the record of cron runs those read."""
