/** The dashboard's style sheet, served as `assets/app.css`. */
export const STYLES = `:root{color-scheme:light dark;--fg:#1d232b;--bg:#fff;--muted:#6b7480;--line:#dde2e8;--ok:#2f8f4e;--bad:#c0392b;--warn:#c98a12;--info:#2f6fb5}
@media (prefers-color-scheme:dark){:root{--fg:#e3e7ec;--bg:#14181d;--muted:#99a3ad;--line:#2c333b}}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,sans-serif;color:var(--fg);background:var(--bg)}
header{display:flex;gap:1rem;align-items:center;padding:.6rem 1rem;border-bottom:1px solid var(--line);flex-wrap:wrap}
.brand{font-weight:700;color:inherit;text-decoration:none}nav a{margin-right:.8rem;color:var(--info);text-decoration:none}
nav a[aria-current]{color:inherit;font-weight:600}.lookup{margin-left:auto;display:flex;gap:.3rem}.lookup input{width:22rem;max-width:50vw}
.live{color:var(--muted)}body[data-live=connected] .live{color:var(--ok)}
.services{margin:.4rem 1rem;color:var(--muted);font-size:12px}.services span{margin-right:1rem}.readonly{font-weight:600}
main{padding:0 1rem 2rem}h1{font-size:20px}h2{font-size:16px;margin-top:1.6rem}
table{border-collapse:collapse;width:100%;max-width:1200px}th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
td.num{text-align:right;font-variant-numeric:tabular-nums}.notes{color:var(--muted);font-size:12px}
.fields{display:grid;grid-template-columns:8rem 1fr;gap:.3rem 1rem}.fields dt{color:var(--muted)}.fields dd{margin:0;word-break:break-all}
button{font:inherit;padding:.15rem .6rem;border:1px solid var(--line);border-radius:4px;background:transparent;color:inherit;cursor:pointer}
button.action{margin-right:.3rem}button:disabled{opacity:.5}
#flash{margin:.5rem 1rem;padding:.4rem .6rem;border-radius:4px}#flash.ok{background:#2f8f4e22}#flash.bad{background:#c0392b22}
.charts{display:flex;gap:1rem;flex-wrap:wrap}.chart{margin:0;width:360px}.chart figcaption{font-size:12px;color:var(--muted)}
.chart svg{width:100%;height:auto;border:1px solid var(--line);border-radius:4px}
.line{fill:none;stroke-width:1.6}.line.ok{stroke:var(--ok)}.line.bad{stroke:var(--bad)}.line.warn{stroke:var(--warn)}.line.info{stroke:var(--info)}
.dot.ok{fill:var(--ok)}.dot.bad{fill:var(--bad)}.dot.warn{fill:var(--warn)}.dot.info{fill:var(--info)}.axis{stroke:var(--line)}svg text{font-size:10px;fill:var(--muted)}tspan.ok{fill:var(--ok)}tspan.bad{fill:var(--bad)}tspan.warn{fill:var(--warn)}tspan.info{fill:var(--info)}
.ev-failed td,.ev-revoked td,.ev-deadLettered td{color:var(--bad)}.ev-succeeded td:nth-child(2){color:var(--ok)}.error{color:var(--bad)}
`;
