import helmet from 'helmet';

/**
 * Security headers of the web UI's pages and assets. Scripts come only from `/assets` (the
 * views have no inline script or event handler attributes), nothing may frame a page, content
 * types are not sniffed, and no URL leaks as a referrer.
 */
export function pageSecurityHeaders(options: { publicUrl: string; herokuIdUrl: string }) {
  const https = new URL(options.publicUrl).protocol === 'https:';
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        scriptSrcAttr: ["'none'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'"],
        connectSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        frameAncestors: ["'none'"],
        // "Connect with Heroku" posts to us and is redirected on to Heroku's authorize page.
        formAction: ["'self'", new URL(options.herokuIdUrl).origin],
        // Only a site served over HTTPS can have its plain-HTTP links upgraded.
        ...(https && { upgradeInsecureRequests: [] }),
      },
    },
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
    strictTransportSecurity: https,
  });
}
