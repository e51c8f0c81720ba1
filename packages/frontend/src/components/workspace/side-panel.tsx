'use client';

import { useState, type ReactNode } from 'react';

export interface SidePanelTab {
  id: string;
  label: string;
  content: ReactNode;
}

/**
 * The builder's side panel: one tab shown at a time, every tab kept mounted (hidden), so an
 * editor's unsaved text or a panel's scroll position survive a look at another tab.
 */
export function SidePanel({
  tabs,
  onSelect,
  children,
}: {
  tabs: SidePanelTab[];
  /** Told when a tab is chosen, e.g. to read its data again. */
  onSelect?: (id: string) => void;
  /** Shown under the tabs whatever tab is open. */
  children?: ReactNode;
}) {
  const [selected, setSelected] = useState(tabs[0]?.id);
  const select = (id: string): void => {
    setSelected(id);
    onSelect?.(id);
  };

  return (
    <div className="space-y-6">
      <div>
        <div role="tablist" aria-label="Side panel" className="mb-3 flex gap-1 border-b border-gray-200">
          {tabs.map((tab) => (
            <button
              key={tab.id}
              type="button"
              role="tab"
              id={`side-tab-${tab.id}`}
              aria-selected={tab.id === selected}
              aria-controls={`side-panel-${tab.id}`}
              onClick={() => select(tab.id)}
              className={`-mb-px border-b-2 px-3 py-1.5 text-xs font-medium ${
                tab.id === selected
                  ? 'border-gray-900 text-gray-900'
                  : 'border-transparent text-gray-500 hover:text-gray-800'
              }`}
              data-testid={`side-tab-${tab.id}`}
            >
              {tab.label}
            </button>
          ))}
        </div>
        {tabs.map((tab) => (
          <div
            key={tab.id}
            role="tabpanel"
            id={`side-panel-${tab.id}`}
            aria-labelledby={`side-tab-${tab.id}`}
            hidden={tab.id !== selected}
          >
            {tab.content}
          </div>
        ))}
      </div>
      {children}
    </div>
  );
}
