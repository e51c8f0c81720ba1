import { describe, expect, it } from 'vitest';
import { pageRoute, verdictTargets } from './verdict-targets';

const PAGES = [
  'src/pages/pricing.astro',
  'src/pages/index.astro',
  'src/pages/blog/index.md',
  'src/pages/blog/[slug].astro',
  'src/pages/_draft.astro',
];

describe('pageRoute', () => {
  it('maps page files to the routes Astro serves them at', () => {
    expect(pageRoute('src/pages/index.astro')).toBe('/');
    expect(pageRoute('src/pages/about.astro')).toBe('/about');
    expect(pageRoute('src/pages/blog/index.md')).toBe('/blog');
    expect(pageRoute('src/pages/docs/getting started.mdx')).toBe('/docs/getting%20started');
  });

  it('has no route for other files, dynamic routes and private files', () => {
    expect(pageRoute('src/components/Hero.astro')).toBeNull();
    expect(pageRoute('src/pages/blog/[slug].astro')).toBeNull();
    expect(pageRoute('src/pages/_draft.astro')).toBeNull();
    expect(pageRoute('src/pages/_parts/header.astro')).toBeNull();
    expect(pageRoute('src/pages/api/data.json.ts')).toBeNull();
  });
});

describe('verdictTargets', () => {
  it('a page write compiles that page only', () => {
    expect(verdictTargets({ writes: ['src/pages/pricing.astro'], deletes: [] }, PAGES, 10)).toEqual([
      { kind: 'page', url: '/pricing', file: 'src/pages/pricing.astro' },
    ]);
  });

  it('a style write compiles its module URL', () => {
    expect(verdictTargets({ writes: ['src/styles/theme.css'], deletes: [] }, PAGES, 10)).toEqual([
      { kind: 'module', url: '/src/styles/theme.css', file: 'src/styles/theme.css' },
    ]);
  });

  it('a component write compiles every routable page, index first, bounded', () => {
    const targets = verdictTargets({ writes: ['src/components/Hero.astro'], deletes: [] }, PAGES, 10);
    expect(targets.map((t) => t.url)).toEqual(['/', '/blog', '/pricing']);
    expect(
      verdictTargets({ writes: ['src/layouts/Layout.astro'], deletes: [] }, PAGES, 2).map((t) => t.url),
    ).toEqual(['/', '/blog']);
  });

  it('a deleted component or style compiles every page but the deleted ones; a deleted page nothing', () => {
    expect(
      verdictTargets(
        { writes: [], deletes: ['src/styles/theme.css', 'src/pages/pricing.astro'] },
        PAGES,
        10,
      ).map((t) => t.url),
    ).toEqual(['/', '/blog']);
    expect(verdictTargets({ writes: [], deletes: ['src/pages/pricing.astro'] }, PAGES, 10)).toEqual([]);
  });

  it('static files compile nothing; a mixed batch compiles modules first, each URL once', () => {
    expect(verdictTargets({ writes: ['public/logo.svg'], deletes: ['public/old.png'] }, PAGES, 10)).toEqual(
      [],
    );
    const targets = verdictTargets(
      { writes: ['src/pages/index.astro', 'src/styles/theme.css', 'src/components/Card.astro'], deletes: [] },
      PAGES,
      10,
    );
    expect(targets.map((t) => `${t.kind} ${t.url}`)).toEqual([
      'module /src/styles/theme.css',
      'page /',
      'page /blog',
      'page /pricing',
    ]);
  });
});
