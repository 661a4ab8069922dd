/**
 * nk-jupyter in JupyterLab: a "Labs" sidebar (this user's running labs and their machines,
 * live), terminals into machines, and a lab's topology as a main-area panel.
 *
 * It talks only to the server extension nk_jupyter.jupyter.server (/nk/api/...), through
 * the Jupyter server's own connection settings (its token or the hub's login), and sends
 * only lab folders and machine names, never command text.
 */
import {
  ILabShell,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { MainAreaWidget } from '@jupyterlab/apputils';
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import { Widget } from '@lumino/widgets';
import cytoscape from 'cytoscape';

const POLL_MS = 2000;

interface IMachine {
  name: string;
  state: string;
  backend: string;
  image: string;
}

interface ILab {
  directory: string;
  name: string;
  text_lab: boolean;
  machines: IMachine[];
}

interface IHalted {
  directory: string;
  name: string;
}

interface ITopology {
  lab: string;
  style: cytoscape.StylesheetJson;
  elements: cytoscape.ElementDefinition[];
  details: { [machine: string]: string };
  height: string;
}

async function call<T>(path: string, init: RequestInit = {}): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, 'nk', 'api', path);
  const response = await ServerConnection.makeRequest(url, init, settings);
  const text = await response.text();
  if (!response.ok) {
    let message = text;
    try {
      message = JSON.parse(text).message || text;
    } catch {
      /* not JSON */
    }
    throw new Error(message || response.statusText);
  }
  return JSON.parse(text) as T;
}

function post<T>(path: string, body: object): Promise<T> {
  return call<T>(path, { method: 'POST', body: JSON.stringify(body) });
}

function el(tag: string, cls: string, text = ''): HTMLElement {
  const e = document.createElement(tag);
  e.className = cls;
  if (text) {
    e.textContent = text;
  }
  return e;
}

/** The left-sidebar panel: labs, their machines, actions. */
class LabsPanel extends Widget {
  constructor(private app: JupyterFrontEnd) {
    super();
    this.id = 'nk-labs';
    this.title.caption = 'Netkit labs';
    this.title.label = 'Labs';
    this.addClass('nk-LabsPanel');
    this.list = el('div', 'nk-LabsPanel-list');
    this.status = el('div', 'nk-LabsPanel-status');
    this.node.appendChild(el('h2', 'nk-LabsPanel-title', 'Running labs'));
    this.node.appendChild(this.list);
    this.node.appendChild(this.status);
    void this.refresh();
    this.timer = window.setInterval(() => void this.refresh(), POLL_MS);
  }

  dispose(): void {
    window.clearInterval(this.timer);
    super.dispose();
  }

  async refresh(): Promise<void> {
    let labs: ILab[];
    let halted: IHalted[];
    try {
      const got = await call<{ labs: ILab[]; halted: IHalted[] }>('labs');
      labs = got.labs;
      halted = got.halted || [];
    } catch (e) {
      this.status.textContent = `cannot list labs: ${(e as Error).message}`;
      return;
    }
    const key = JSON.stringify([labs, halted]);
    if (key === this.last) {
      return;
    }
    this.last = key;
    this.status.textContent = '';
    this.list.replaceChildren();
    if (labs.length === 0) {
      this.list.appendChild(
        el('p', 'nk-LabsPanel-empty', 'No lab is running. Start one with %lstart or nk lstart.')
      );
    }
    for (const lab of labs) {
      this.list.appendChild(this.labNode(lab));
    }
    if (halted.length > 0) {
      this.list.appendChild(el('h3', 'nk-LabsPanel-subtitle', 'Halted (files kept)'));
      for (const lab of halted) {
        const row = el('div', 'nk-Lab nk-Lab-halted');
        row.dataset.lab = lab.name;
        row.title = lab.directory;
        row.appendChild(el('span', 'nk-Lab-name', lab.name));
        row.appendChild(
          this.button('start', `Start ${lab.name} again`, () =>
            this.act({ directory: lab.directory, name: lab.name, text_lab: false, machines: [] }, 'start')
          )
        );
        this.list.appendChild(row);
      }
    }
  }

  private labNode(lab: ILab): HTMLElement {
    const box = el('div', 'nk-Lab');
    box.dataset.lab = lab.name;
    const head = el('div', 'nk-Lab-head');
    head.appendChild(el('span', 'nk-Lab-name', lab.name));
    head.title = lab.directory;
    head.appendChild(this.button('topology', 'Show the topology', () => this.topology(lab)));
    head.appendChild(this.button('halt', 'Halt the lab (shutdown scripts run)', () => this.act(lab, 'halt')));
    head.appendChild(this.button('crash', 'Crash the lab', () => this.act(lab, 'crash')));
    box.appendChild(head);
    const ul = el('ul', 'nk-Lab-machines');
    for (const m of lab.machines) {
      const li = el('li', `nk-Machine nk-state-${m.state}`);
      li.dataset.machine = m.name;
      const name = el('a', 'nk-Machine-name', m.name);
      name.title = m.state === 'running' ? `Open a terminal in ${m.name}` : `${m.name} is ${m.state}`;
      name.onclick = () => void this.terminal(lab, m);
      li.appendChild(name);
      li.appendChild(el('span', 'nk-Machine-state', m.state + (m.image ? ` · ${m.image}` : '')));
      if (m.state === 'running') {
        li.appendChild(this.button('halt', `Halt ${m.name}`, () => this.act(lab, 'halt', m.name)));
        li.appendChild(this.button('crash', `Crash ${m.name}`, () => this.act(lab, 'crash', m.name)));
      } else {
        li.appendChild(this.button('start', `Start ${m.name}`, () => this.act(lab, 'start', m.name)));
      }
      ul.appendChild(li);
    }
    box.appendChild(ul);
    return box;
  }

  private button(label: string, title: string, action: () => void): HTMLElement {
    const b = el('button', `nk-Button nk-Button-${label}`, label) as HTMLButtonElement;
    b.title = title;
    b.onclick = ev => {
      ev.stopPropagation();
      action();
    };
    return b;
  }

  private async act(lab: ILab, action: string, machine?: string): Promise<void> {
    this.status.textContent = `${action} ${machine ?? lab.name}…`;
    try {
      await post('labs/action', { directory: lab.directory, action, machine });
      this.status.textContent = '';
    } catch (e) {
      this.status.textContent = `${action} failed: ${(e as Error).message}`;
    }
    this.last = '';
    await this.refresh();
  }

  private async terminal(lab: ILab, m: IMachine): Promise<void> {
    if (m.state !== 'running') {
      this.status.textContent = `${m.name} is ${m.state}: start it first`;
      return;
    }
    try {
      const made = await post<{ name: string; title: string }>('terminals', {
        directory: lab.directory,
        machine: m.name
      });
      const widget = (await this.app.commands.execute('terminal:open', { name: made.name })) as Widget;
      if (widget && widget.title) {
        // the terminal names itself after its session once connected: keep the machine's name
        const keep = () => {
          if (widget.title.label !== made.title) {
            widget.title.label = made.title;
          }
        };
        widget.title.changed.connect(keep);
        keep();
      }
    } catch (e) {
      this.status.textContent = `cannot open a terminal in ${m.name}: ${(e as Error).message}`;
    }
  }

  private topology(lab: ILab): void {
    const content = new TopologyPanel(lab);
    const widget = new MainAreaWidget({ content });
    widget.id = `nk-topology-${lab.name}`;
    widget.title.label = `Topology · ${lab.name}`;
    widget.title.closable = true;
    this.app.shell.add(widget, 'main');
    this.app.shell.activateById(widget.id);
  }

  private list: HTMLElement;
  private status: HTMLElement;
  private timer: number;
  private last = '';
}

/** A lab's topology: the cell widget's drawing (same style and elements, from the server). */
class TopologyPanel extends Widget {
  constructor(private lab: ILab) {
    super();
    this.addClass('nk-TopologyPanel');
    this.graph = el('div', 'nk-TopologyPanel-graph');
    this.details = el('div', 'nk-TopologyPanel-details', 'Click a machine to see its interfaces and routes.');
    this.node.appendChild(this.graph);
    this.node.appendChild(this.details);
    void this.refresh();
    this.timer = window.setInterval(() => void this.refresh(), POLL_MS * 2);
  }

  dispose(): void {
    window.clearInterval(this.timer);
    this.cy?.destroy();
    super.dispose();
  }

  protected onResize(): void {
    this.cy?.resize();
    this.cy?.fit(undefined, 30);
  }

  async refresh(): Promise<void> {
    let topo: ITopology;
    try {
      topo = await call<ITopology>(`topology?directory=${encodeURIComponent(this.lab.directory)}`);
    } catch (e) {
      this.details.textContent = `the lab is not running any more (${(e as Error).message})`;
      return;
    }
    this.topo = topo;
    const key = JSON.stringify(topo.elements);
    if (this.cy && key === this.last) {
      return;
    }
    this.last = key;
    if (!this.cy) {
      this.cy = cytoscape({
        container: this.graph,
        elements: topo.elements,
        style: topo.style,
        layout: { name: 'preset', fit: true, padding: 30 },
        maxZoom: 1.6,
        minZoom: 0.2
      });
      this.cy.on('tap', 'node.machine', ev => {
        const name = ev.target.data('machine') as string;
        this.details.innerHTML = this.topo?.details[name] ?? '';
        this.details.dataset.machine = name;
      });
    } else {
      for (const e of topo.elements) {
        const found = this.cy.getElementById(e.data.id as string);
        if (found.nonempty()) {
          found.data(e.data);
          found.classes(e.classes as string);
        } else {
          this.cy.add(e);
        }
      }
      const wanted = new Set(topo.elements.map(e => e.data.id as string));
      this.cy.elements().forEach(e => {
        if (!wanted.has(e.id())) {
          e.remove();
        }
      });
    }
    const shown = this.details.dataset.machine;
    if (shown && topo.details[shown]) {
      this.details.innerHTML = topo.details[shown];
    }
  }

  private graph: HTMLElement;
  private details: HTMLElement;
  private timer: number;
  private cy: cytoscape.Core | null = null;
  private topo: ITopology | null = null;
  private last = '';
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'nk-jupyter-labextension:plugin',
  description: 'A Labs sidebar, terminals into machines, the topology as a panel',
  autoStart: true,
  optional: [ILabShell],
  activate: (app: JupyterFrontEnd) => {
    const panel = new LabsPanel(app);
    app.shell.add(panel, 'left', { rank: 600 });
  }
};

export default plugin;
