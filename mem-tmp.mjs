const mu = (l) => { const m = process.memoryUsage(); console.log(l, 'rss', (m.rss/1e6).toFixed(1), 'heapTotal', (m.heapTotal/1e6).toFixed(1), 'heapUsed', (m.heapUsed/1e6).toFixed(1)); };
mu('start');
for (const mod of process.argv.slice(2)) { await import(mod); global.gc?.(); mu(mod); }
